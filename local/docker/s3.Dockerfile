# The local S3 for the Compose stack: s3rver under local/emulators/s3_server.js (presigned SigV4
# checks, ObjectCreated notifications), the same version and CORS file as local/stack/s3rver.py.
#   docker build -f local/docker/s3.Dockerfile -t tidings-s3 .
FROM node:22-bookworm-slim

ARG S3RVER_VERSION=3.7.1
RUN npm install --global --omit=dev "s3rver@${S3RVER_VERSION}" \
    && npm cache clean --force \
    && mkdir -p /data /app && chown node:node /data
ENV NODE_PATH=/usr/local/lib/node_modules
COPY local/emulators/s3_server.js local/emulators/s3rver-cors.xml /app/

USER node
VOLUME ["/data"]
EXPOSE 9000

HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
    CMD node -e "require('net').connect(9000, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"

# s3rver's built-in account (S3RVER) is the only key it knows, as in local/stack/s3rver.py.
ENTRYPOINT ["node", "/app/s3_server.js", "--port", "9000", "--host", "0.0.0.0", "--directory", "/data", \
            "--bucket", "tidings-attachments", "--cors", "/app/s3rver-cors.xml", \
            "--access-key", "S3RVER", "--secret-key", "S3RVER", \
            "--notify", "http://attachment-check:9402/invoke", "--notify-prefix", "rooms/"]
