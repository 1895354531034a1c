# Worker image for Dataflow, Flink and Spark (portable runners): Beam's own SDK image with
# interleaf and its dependencies installed, so workers start with nothing to download.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/interleaf:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/interleaf:0.1.0
FROM apache/beam_python3.11_sdk:2.77.0

WORKDIR /opt/interleaf
COPY pyproject.toml README.md ./
COPY interleaf interleaf
COPY schemas schemas
COPY filters filters
COPY pipeline pipeline
COPY loaders loaders
COPY flamingo flamingo
COPY cli cli
# Only the pipeline's dependencies: torch (the `train` extra) is not needed on workers.
RUN pip install --no-cache-dir . && pip check
