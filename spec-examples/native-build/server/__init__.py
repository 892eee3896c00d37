"""An inference server over a natively built C++ library (toyinfer)."""
