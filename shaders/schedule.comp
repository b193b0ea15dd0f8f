#version 450
// hyper = [lr, momentum, 0, 0] for the current step: reference/schedule.hpp in float. One invocation.
layout(local_size_x = 1) in;

layout(binding = 0) readonly buffer Step { uint step[]; };     // (2): low, high word
layout(binding = 1) writeonly buffer Hyper { float hyper[]; };  // (4)
layout(push_constant) uniform Params {
  uint decay;            // 0 constant, 1 step, 2 exponential, 3 cosine (LrDecay)
  uint steps_per_epoch;
  uint step_epochs;
  uint total_epochs;
  float lr;
  float gamma;
  float lr_min;
  float momentum;
  float momentum_start;
  float ramp_epochs;
};

void main() {
  // Steps beyond 2^32 are far past any schedule's end: saturate rather than wrap.
  uint s = step[1] != 0u ? 0xffffffffu : step[0];
  uint epoch = s / steps_per_epoch;
  float rate = lr;
  if (decay == 1u) {
    rate = lr * pow(gamma, float(epoch / step_epochs));
  } else if (decay == 2u) {
    rate = lr * pow(gamma, float(epoch));
  } else if (decay == 3u) {
    float total = float(total_epochs) * float(steps_per_epoch);
    float t = min(float(s), total) / total;
    rate = lr_min + (lr - lr_min) * (1.0 + cos(3.14159265358979 * t)) * 0.5;
  }
  float m = momentum;
  if (ramp_epochs > 0.0) {
    float t = min(1.0, float(s) / (ramp_epochs * float(steps_per_epoch)));
    m = momentum_start + (momentum - momentum_start) * t;
  }
  hyper[0] = rate;
  hyper[1] = m;
  hyper[2] = 0.0;
  hyper[3] = 0.0;
}
