// BatchNorm1d (layers/batch_norm1d.hpp) on (N, C) and (N, C, L). The op it records (ops/batch_norm) is tested over
// all its shapes, (N, C) and (N, C, L) included, in test_batch_norm2d.cpp; here: the layer's printout, shapes and
// refusals, and models with it against the reference (tests/batch_norm_model.hpp states the tolerances).
#include "batch_norm_model.hpp"
#include "synthetic_images.hpp"

#include <vkdrop/layers/batch_norm1d.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/runtime/error.hpp>

using namespace vkdrop;
using Catch::Matchers::Contains;

TEST_CASE("BatchNorm1d: PyTorch's printout, its shapes, and bad configurations refused when built") {
  CHECK(BatchNorm1d(32).describe() == "BatchNorm1d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  CHECK(BatchNorm1d(100, 1e-3, 0.25).describe() ==
        "BatchNorm1d(100, eps=0.001, momentum=0.25, affine=True, track_running_stats=True)");
  CHECK(BatchNorm1d(17).output_shape({33, 17}) == Shape{33, 17});
  CHECK(BatchNorm1d(3).output_shape({1, 3, 35}) == Shape{1, 3, 35});
  CHECK(BatchNorm1d(3).output_shape({2, 3}) == Shape{2, 3});
  CHECK(BatchNorm1d(3).buffers({2, 3}).at(4).shape == Shape{});

  CHECK_THROWS_WITH(BatchNorm1d(-1), Contains("BatchNorm1d: invalid num_features = -1"));
  CHECK_THROWS_WITH(BatchNorm1d(3, 1e-5, 2), Contains("BatchNorm1d: invalid momentum = 2"));
  CHECK_THROWS_WITH(BatchNorm1d(3).output_shape({8, 3, 5, 7}),
                    Contains("BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True) expects "
                             "(N, C) or (N, C, L), got (8, 3, 5, 7)"));
  CHECK_THROWS_AS(BatchNorm1d(3).output_shape({8}), ShapeError);
  CHECK_THROWS_WITH(BatchNorm1d(3).output_shape({8, 4}), Contains("expects 3 channels in dimension 1, got (8, 4)"));
  CHECK_THROWS_WITH(BatchNorm1d(3).check_training_input({1, 3}),
                    Contains("expected more than 1 value per channel when training, got input of shape (1, 3)"));
  CHECK_THROWS_AS(BatchNorm1d(3).check_training_input({1, 3, 1}), ShapeError);
  CHECK_NOTHROW(BatchNorm1d(3).check_training_input({2, 3}));

  Context& ctx = test::context();
  const TrainConfig config = test::synthetic_images_config();
  CHECK_THROWS_WITH(Model(ctx, Sequential{Flatten(), BatchNorm1d(8), Linear(8, 4)}, {1, 4, 4}, config),
                    Contains("layer 1 BatchNorm1d(8") && Contains("(16, 16)"));
  // A training batch of one is refused when the model is built (as PyTorch refuses it); an evaluation batch of one
  // is fine: eval normalises with the running statistics.
  TrainConfig one = config;
  one.batch_size = 1;
  CHECK_THROWS_WITH(Model(ctx, Sequential{Flatten(), BatchNorm1d(16), Linear(16, 4)}, {1, 4, 4}, one),
                    Contains("layer 1 BatchNorm1d(16") && Contains("cannot train on batches of 1") &&
                        Contains("more than 1 value per channel") && Contains("(1, 16)"));
  TrainConfig eval_one = config;
  eval_one.eval_batch_size = 1;
  Model single(ctx, Sequential{Flatten(), BatchNorm1d(16), Linear(16, 4)}, {1, 4, 4}, eval_one);
  const std::vector<float> probs = single.predict(std::vector<float>(16, 0.5f), 1);
  REQUIRE(probs.size() == 4);
  CHECK(probs[0] + probs[1] + probs[2] + probs[3] == Approx(1.0f).epsilon(1e-5));
}

TEST_CASE("BatchNorm1d on (N, C) in a model: running statistics of an epoch, eval with them, a checkpoint round trip") {
  // Flatten is a view, so the BatchNorm sees the 16 features of each sample as 16 channels of one value.
  test::check_batch_norm_model(Sequential{Flatten(), BatchNorm1d(16), Linear(16, 4)}, {1, 4, 4}, 16, 1, 2);
}

TEST_CASE("BatchNorm1d on (N, C, L) in a model: running statistics of an epoch, eval with them, a checkpoint round trip") {
  test::check_batch_norm_model(Sequential{BatchNorm1d(2), Flatten(), Linear(16, 4)}, {2, 8}, 2, 0, 2);
}

TEST_CASE("a model with a BatchNorm1d layer between two Linear layers trains, and its gradient reaches the first") {
  const Sequential net{Linear(16, 32), BatchNorm1d(32), ReLU(), Linear(32, 4)};
  const test::SyntheticRun run = test::train_synthetic(net, 4);
  CHECK(run.last_loss < run.first_loss);
  CHECK(run.first_weight_change > 0);
}
