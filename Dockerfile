# listing-search: the HTTP API and the Redis-stream worker share this one image.
#   docker build -t listing-search .
#   docker run --rm -p 8000:8000 -e OPENSEARCH_URL=... -e REDIS_URL=... \
#       -e LISTING_SEARCH_OPERATOR_TOKEN=... listing-search            # the API (default CMD)
#   docker run --rm ... listing-search listing-search worker           # the worker
# docker-compose.yml at the repository root wires both to OpenSearch and Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Unprivileged user with fixed ids (so volume ownership and runAsNonRoot policies are predictable).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

WORKDIR /src
# The whole (filtered, see .dockerignore) tree: pyproject.toml, README.md and the packages
# that [tool.setuptools.packages.find] picks up, with their package data.
COPY . .
# `pip install .`: no extras, not editable. scripts/check_fresh_install.py (run first by
# scripts/test.sh, so by CI) installs the same way into a clean venv and proves that this alone
# imports every shipped module and runs `listing-search dev`.
RUN pip install --no-cache-dir . \
 && cd / && rm -rf /src

WORKDIR /home/app
USER 10001:10001

EXPOSE 8000

CMD ["listing-search", "api", "--host", "0.0.0.0", "--port", "8000"]
