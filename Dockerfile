# Production image. Expects DATABASE_URL (PostgreSQL with the pg_trgm and unaccent extensions
# available), SECRET_KEY and ALLOWED_HOSTS from the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production

WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

# Only what the service needs: no .venv, .data or tests from a developer's work tree.
COPY manage.py ./
COPY config ./config
COPY catalogue ./catalogue
COPY api ./api

RUN DATABASE_URL=postgres://build@localhost/build DJANGO_ENV=development \
    python manage.py collectstatic --noinput
RUN useradd --create-home --shell /usr/sbin/nologin app
USER app

EXPOSE 8000

CMD ["sh", "-c", ": \"${DATABASE_URL:?set DATABASE_URL}\" && python manage.py migrate --noinput && BIND=0.0.0.0:8000 exec gunicorn -c config/gunicorn.py config.wsgi:application"]
