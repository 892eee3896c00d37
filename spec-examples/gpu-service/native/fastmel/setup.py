from setuptools import Extension, setup

setup(
    name="fastmel",
    version="0.1.0",
    ext_modules=[Extension("fastmel", ["fastmel.c"])],
)
