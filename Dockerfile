FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY fhir_server ./fhir_server
COPY auth ./auth
COPY profiles ./profiles
COPY mappings ./mappings
COPY dataset ./dataset
RUN pip install --no-cache-dir .
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["fhir-server", "serve", "--no-access-log"]
