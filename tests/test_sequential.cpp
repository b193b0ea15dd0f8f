// Sequential: PyTorch-like construction, shape checking that names both layers, parameter specs.
#include <vkdrop/layers/dropout.hpp>
#include <vkdrop/layers/flatten.hpp>
#include <vkdrop/layers/linear.hpp>
#include <vkdrop/layers/relu.hpp>
#include <vkdrop/layers/sequential.hpp>
#include <vkdrop/runtime/error.hpp>

#include <catch2/catch.hpp>

using namespace vkdrop;

TEST_CASE("a Sequential reads like PyTorch and chains shapes") {
  Sequential net{Linear(784, 1024), ReLU(), Dropout(0.5), Linear(1024, 10)};
  REQUIRE(net.size() == 4);
  const auto shapes = net.shapes({128, 784});
  REQUIRE(shapes.size() == 5);
  CHECK(shapes[1] == Shape{128, 1024});
  CHECK(shapes[4] == Shape{128, 10});
  CHECK(net.describe() ==
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=1024, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.5, inplace=False)\n"
        "  (3): Linear(in_features=1024, out_features=10, bias=True)\n"
        ")");
  // Numbers as Python prints them, and PyTorch's inplace flag (vkdrop's dropout never works in place).
  CHECK(Dropout(1).describe() == "Dropout(p=1.0, inplace=False)");
  CHECK(Dropout2d(0.25, DropoutScaling::Vanilla).describe() == "Dropout2d(p=0.25, scaling=vanilla, inplace=False)");
  CHECK(net[0].buffers({1, 784}).size() == 3);  // weight, bias, and scratch for split K
  CHECK(net[0].buffers({1, 784})[0].shape == Shape{1024, 784});
  CHECK(net[0].buffers({1, 784})[0].max_norm_axis == 0u);
  CHECK(!net[0].buffers({1, 784})[1].max_norm_axis);
  CHECK(net[1].buffers({1, 1024}).empty());

  Sequential copy = net;  // layers are copied, not shared
  CHECK(copy.describe() == net.describe());
}

TEST_CASE("layers whose shapes do not chain are named, both of them") {
  Sequential net{Linear(784, 100), ReLU(), Linear(50, 10)};
  REQUIRE_THROWS_AS(net.shapes({32, 784}), ShapeError);
  REQUIRE_THROWS_WITH(net.shapes({32, 784}),
                      Catch::Matchers::Contains("layer 2 Linear(in_features=50") &&
                          Catch::Matchers::Contains("layer 0 Linear(in_features=784, out_features=100") &&
                          Catch::Matchers::Contains("(32, 100)"));
  Sequential first_wrong{Linear(10, 5)};
  CHECK_THROWS_WITH(first_wrong.shapes({4, 784}), Catch::Matchers::Contains("the input"));
  // Shape-keeping layers pass the shape on: the input made it, or the Flatten that changed it.
  CHECK_THROWS_WITH((Sequential{Dropout(0.2), ReLU(), Linear(10, 5)}.shapes({4, 784})),
                    Catch::Matchers::Contains("cannot follow the input (which gives (4, 784))"));
  CHECK_THROWS_WITH((Sequential{Flatten(), ReLU(), Linear(10, 5)}.shapes({4, 2, 8})),
                    Catch::Matchers::Contains("cannot follow layer 0 Flatten(start_dim=1, end_dim=-1) (which gives (4, 16))"));
  CHECK_THROWS_AS(Sequential{}.shapes({1, 1}), ArgumentError);
  CHECK_THROWS_AS(Sequential{Dropout2d(0.1)}.shapes({4, 10}), ShapeError);
  CHECK(Sequential{Dropout2d(0.1)}.shapes({4, 3, 5, 5}).back() == Shape{4, 3, 5, 5});
}

TEST_CASE("bad layer arguments are refused when the layer is built") {
  CHECK_THROWS_AS(Dropout(-0.1), ArgumentError);
  CHECK_THROWS_AS(Dropout(1.5), ArgumentError);
  CHECK_THROWS_AS(Dropout(std::nan("")), ArgumentError);
  CHECK_THROWS_AS(Dropout2d(2.0), ArgumentError);
  CHECK_NOTHROW(Dropout(0.0));
  CHECK_NOTHROW(Dropout(1.0));
  CHECK_THROWS_AS(Linear(0, 10), ArgumentError);
}

TEST_CASE("Linear initializes as PyTorch does, reproducibly") {
  Linear layer(100, 30);
  std::vector<std::vector<float>> a{std::vector<float>(3000), std::vector<float>(30)};
  std::vector<std::vector<float>> b = a;
  std::mt19937_64 r1(7), r2(7);
  layer.initialize(a, r1, Init::PyTorchDefault);
  layer.initialize(b, r2, Init::PyTorchDefault);
  CHECK(a == b);
  const float bound = 1.0f / 10.0f;  // 1/sqrt(fan_in)
  float lo = 1, hi = -1;
  for (float w : a[0]) {
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi - lo > 1.9f * bound);  // spans the interval
  std::mt19937_64 r3(7);
  layer.initialize(b, r3, Init::XavierUniform);
  for (float w : b[0]) CHECK(std::abs(w) <= std::sqrt(6.0f / 130.0f));
  for (float bias : b[1]) CHECK(bias == 0.0f);
}
