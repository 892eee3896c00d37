/* toyinfer: a matrix-vector kernel behind a C API, loadable with ctypes. */
#ifndef TOYINFER_H
#define TOYINFER_H

#ifdef __cplusplus
extern "C" {
#endif

#define TOYINFER_API __attribute__((visibility("default")))

/* The library's version, e.g. "0.1.0". */
TOYINFER_API const char *toyinfer_version(void);

/* y[rows] = relu(w[rows x cols] . x[cols]); returns 0, or -1 for bad sizes. */
TOYINFER_API int toyinfer_dense_relu(const float *w, const float *x, float *y, int rows, int cols);

#ifdef __cplusplus
}
#endif
#endif
