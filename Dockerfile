# dsr-assistant: the service image (`dsr serve`).  Built by compose.yaml next to this file.
#
# Two stages: the first builds a virtualenv with the project and its dependencies (wheels only,
# no compiler needed on slim), the second copies it into a clean image that runs as a non-root
# user.  Configuration comes from DSR_* environment variables (see README, "Configuration").

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dsr ./dsr
RUN python -m venv /opt/dsr \
    && /opt/dsr/bin/pip install --upgrade pip \
    && /opt/dsr/bin/pip install .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="dsr-assistant" \
      org.opencontainers.image.description="Assistant for GDPR data-subject requests (Betroffenenanfragen)"
# A fixed, unprivileged uid so volume permissions are predictable.
RUN groupadd --system --gid 10001 dsr \
    && useradd --system --uid 10001 --gid dsr --home-dir /var/lib/dsr --create-home --shell /usr/sbin/nologin dsr
COPY --from=build /opt/dsr /opt/dsr
ENV PATH=/opt/dsr/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TZ=Europe/Berlin \
    DSR_SMTP_LISTEN=0.0.0.0:2525 \
    DSR_WEB_LISTEN=0.0.0.0:8080 \
    DSR_MAILDIR=/var/lib/dsr/maildir \
    DSR_DATABASE_URL=sqlite:////var/lib/dsr/dsr.sqlite3
USER dsr
WORKDIR /var/lib/dsr
VOLUME ["/var/lib/dsr"]
EXPOSE 2525 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), 3).close()"]
# `dsr serve` applies pending migrations before it starts listening.
CMD ["dsr", "serve"]
