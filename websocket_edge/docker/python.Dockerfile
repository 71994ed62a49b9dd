# One image for every Python process of tidings: the WebSocket edge (ECS and Compose), the
# local event source mapping runner, the local HTTP gateway and the init job.
#
#   docker build -f websocket_edge/docker/python.Dockerfile -t tidings-python .     (from the repo root)
#
# Dependencies are pyproject.toml's pinned [project.dependencies], the MSK IAM signer included
# (TIDINGS_KAFKA_SECURITY=iam, functions/kafka_client.py).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

COPY pyproject.toml /app/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/app/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY functions/ /app/functions/
COPY websocket_edge/ /app/websocket_edge/
COPY local/ /app/local/
COPY websocket_edge/docker/edge-entrypoint.sh /usr/local/bin/tidings-entrypoint

RUN chmod 0755 /usr/local/bin/tidings-entrypoint \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin tidings

USER 10001:10001
EXPOSE 8001 8101

ENTRYPOINT ["/usr/local/bin/tidings-entrypoint"]
# The edge; Compose and ECS pass their own command (same flags, their ports).
CMD ["gunicorn", "-k", "websocket_edge.worker.EdgeWorker", "-w", "1", \
     "--bind", "0.0.0.0:8001", "--bind", "0.0.0.0:8101", \
     "--worker-connections", "12000", "--graceful-timeout", "20", "--timeout", "60", \
     "--worker-tmp-dir", "/tmp", "--no-control-socket", "websocket_edge.app:get_app()"]
