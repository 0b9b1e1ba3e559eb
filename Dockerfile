FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt gunicorn==23.0.0
COPY . .
# The admin's, the API docs' and the listener page's static files, compressed, served by WhiteNoise from the image.
# The database URL is only parsed here, never connected to.
RUN DATABASE_URL=postgres://build@localhost/build SECRET_KEY=build python manage.py collectstatic --noinput
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
