"""An inference server built in cpu, cuda and rocm variants from one spec."""
