FROM python:3.11-slim
# log lines reach `docker logs` as they are written, not when a buffer fills
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY fhir_server ./fhir_server
COPY auth ./auth
COPY medcom ./medcom
COPY profiles ./profiles
COPY dataset ./dataset
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin fhir \
    && mkdir -p /app/data && chown fhir /app/data
# not root: the server needs to write nothing but its SQLite file (./data, when used)
USER fhir
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["fhir-server", "serve", "--no-access-log"]
