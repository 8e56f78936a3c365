# Shelfmark's image: one image for the API (`shelfmark serve`) and the workers
# (`shelfmark worker relay|consume|scheduler`). Multi-stage: the build stage installs the pinned
# dependencies into a virtualenv; the runtime stage gets the virtualenv and the source only,
# and runs as an unprivileged user. The base is pinned by tag (pin the digest too in production:
# `docker buildx imagetools inspect python:3.11.7-slim-bookworm`).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python -m venv /opt/shelfmark
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
COPY migrations ./migrations
# Editable: the migrations are found relative to the source tree (bootstrap/migrations.py).
RUN /opt/shelfmark/bin/pip install -c constraints.txt -e .

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 shelfmark \
 && useradd --system --uid 10001 --gid shelfmark --home-dir /app --shell /usr/sbin/nologin shelfmark
WORKDIR /app
COPY --from=build /opt/shelfmark /opt/shelfmark
COPY --from=build /app /app
RUN mkdir -p /app/var && chown shelfmark:shelfmark /app/var
ENV PATH=/opt/shelfmark/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SHELFMARK_HOST=0.0.0.0 \
    SHELFMARK_PORT=8000 \
    SHELFMARK_LOG_JSON=true
USER shelfmark:shelfmark
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2).status != 200)"]
CMD ["shelfmark", "serve"]
