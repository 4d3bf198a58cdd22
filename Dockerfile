# The image kubeline's pipeline components run in on Kubeflow Pipelines and Vertex AI
# Pipelines (pipelines/image.py: DEFAULT_IMAGE; `kubeline compile --image` points at another).
#
#   docker build -t kubeline:0.1.0 .
#   docker run --rm kubeline:0.1.0 kubeline --version
#
# It installs exactly requirements.txt (every runtime dependency, pinned to the versions the
# tests ran with; scripts/requirements_lock.py writes it) and then kubeline itself, both with
# --no-deps, so nothing is resolved at build time. tests/deploy/test_image.py checks this.
#
# The -full variant installs requirements-full.txt instead: the same plus pyarrow
# (kubeline[parquet]), for components that read Arrow datasets (docs/images.md):
#
#   docker build --build-arg REQUIREMENTS=requirements-full.txt -t kubeline:0.1.0-full .
FROM python:3.11-slim-bookworm

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kubeline" \
      org.opencontainers.image.description="Kubeflow Pipelines made easy: the runtime of kubeline's pipeline components" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/kubeline/kubeline" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

# No pip cache or .pyc files in the layers; logs reach KFP's UI as they are written.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed numeric uid, so that Kubernetes' runAsNonRoot can verify it. The KFP launcher writes
# artifacts under /gcs, /minio and /s3; backends older than kubeflow/pipelines#10538 do not
# mount them, so they exist here, writable by that user (kubeflow/pipelines#5673).
RUN groupadd --system --gid 10001 kubeline \
    && useradd --system --uid 10001 --gid kubeline --create-home --home-dir /home/kubeline \
        --shell /usr/sbin/nologin kubeline \
    && mkdir -p /gcs /minio /s3 \
    && chown kubeline:kubeline /gcs /minio /s3

WORKDIR /opt/kubeline

# Dependencies first, in their own layer: it is rebuilt only when the lock changes (only the
# one the image installs is copied in).
# Wheels only (this image has no compiler), except kfp and kfp-server-api, which PyPI has as
# pure-Python source archives only. The test suites and C headers the wheels ship (pandas,
# scipy, scikit-learn, numpy...: about 140 MB, never imported at run time) are removed in the
# same layer, so they take no space (docs/images.md).
ARG REQUIREMENTS=requirements.txt
COPY ${REQUIREMENTS} ./
RUN pip install --no-deps --only-binary=:all: --no-binary=kfp,kfp-server-api \
        -r "${REQUIREMENTS}" \
    && pip check \
    && site="$(python -c "print(__import__('sysconfig').get_path('purelib'))")" \
    && find "$site" -type d \( -name tests -o -name test \) -prune -exec rm -rf {} + \
    && find "$site" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.pxd' -o -name '*.pyx' \
        -o -name '*.pyi' \) -delete

# Then kubeline itself: the build's own files (build/, *.egg-info) are removed with it.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && pip check \
    && rm -rf build src/*.egg-info

USER 10001:10001
WORKDIR /home/kubeline
ENV HOME=/home/kubeline \
    KUBELINE_HOME=/home/kubeline/.kubeline

# No ENTRYPOINT: KFP and Vertex AI set each component's command (sh -ec '... python3 -m
# kfp.dsl.executor_main ...'), so the image runs what it is given.
CMD ["kubeline", "--help"]
