# dynalite (DynamoDB API on LevelDB) for the Compose stack, under the same launcher and version as
# local/stack/dynalite.py (local/emulators/dynalite_server.js keeps it up when a client is killed
# mid-request).
#   docker build -f local/docker/dynalite.Dockerfile -t tidings-dynalite .
FROM node:22-bookworm-slim

ARG DYNALITE_VERSION=4.0.0
RUN npm install --global --omit=dev "dynalite@${DYNALITE_VERSION}" \
    && npm cache clean --force \
    && mkdir -p /data /app && chown node:node /data
ENV NODE_PATH=/usr/local/lib/node_modules:/usr/local/lib/node_modules/dynalite/node_modules
COPY local/emulators/dynalite_server.js /app/

USER node
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD node -e "require('net').connect(8000, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"

# Table state changes in milliseconds, like the invoke stack (50 ms).
ENTRYPOINT ["node", "/app/dynalite_server.js", "--host", "0.0.0.0", "--port", "8000", "--path", "/data", \
            "--createTableMs", "50", "--deleteTableMs", "50", "--updateTableMs", "50"]
