# Production image: gunicorn under manage.py serve, as a non-root user, JSON logs.
#
#   docker build -t catalogue-api .
#   docker run --rm -e DATABASE_URL=… -e SECRET_KEY=… catalogue-api migrate --noinput
#   docker run -d -p 8000:8000 -e DATABASE_URL=… -e SECRET_KEY=… -e ALLOWED_HOSTS=… catalogue-api
#
# DATABASE_URL: PostgreSQL with the pg_trgm, unaccent and fuzzystrmatch extensions available.
# The image refuses to start without SECRET_KEY. Migrations are a separate, explicit step (above);
# any other manage.py command runs the same way (createsuperuser, import_catalogue …).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
# Runtime dependencies only: no embedded PostgreSQL, test or lint tools.
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
WORKDIR /app
# Only what the service needs: no .venv, .data, tests or benchmark from a work tree.
COPY manage.py ./
COPY config ./config
COPY catalogue ./catalogue
COPY api ./api
RUN DATABASE_URL=postgres://build@localhost/build DJANGO_ENV=development \
    /opt/venv/bin/python manage.py collectstatic --noinput

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_ENV=production \
    LOG_FORMAT=json \
    BIND=0.0.0.0:8000
RUN useradd --system --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "config/healthcheck.py"]
ENTRYPOINT ["python", "manage.py"]
CMD ["serve"]
