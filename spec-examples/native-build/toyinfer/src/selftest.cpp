// Run by ctest at build time, and installed so the image can check itself.
#include <cstdio>
#include <cstring>

#include "toyinfer.h"

int main() {
  const float w[] = {1, 2, 3, -1, -2, -3};
  const float x[] = {1, 1, 1};
  float y[2] = {0, 0};
  if (toyinfer_dense_relu(w, x, y, 2, 3) != 0 || y[0] != 6.0f || y[1] != 0.0f) {
    std::fprintf(stderr, "toyinfer selftest failed: y = [%g, %g]\n", y[0], y[1]);
    return 1;
  }
  std::printf("toyinfer %s ok\n", toyinfer_version());
  return 0;
}
