# The strata frontend image, from a static binary built on the host (no image pulls needed).
# Used by scripts/build-frontend-image.sh, whose build context holds only the binary.
# For a self-contained multi-stage build, see Dockerfile.frontend at the repository root.
FROM scratch
COPY strata /strata
# The frontend needs no network: BuildKit starts it without one.
LABEL moby.buildkit.frontend.network.none="true"
ENTRYPOINT ["/strata"]
