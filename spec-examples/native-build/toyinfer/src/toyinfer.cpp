#include "toyinfer.h"

#include <algorithm>
#include <numeric>

extern "C" const char *toyinfer_version(void) { return TOYINFER_VERSION; }

extern "C" int toyinfer_dense_relu(const float *w, const float *x, float *y, int rows, int cols) {
  if (!w || !x || !y || rows <= 0 || cols <= 0) return -1;
  for (int r = 0; r < rows; ++r) {
    const float *row = w + static_cast<long>(r) * cols;
    y[r] = std::max(0.0f, std::inner_product(row, row + cols, x, 0.0f));
  }
  return 0;
}
