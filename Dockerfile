FROM python:3.11-slim
# Local data (the generated secret key, SQLite, uploads) lives in /data, a
# volume, never in the image: .dockerignore keeps this folder's own data/,
# .env, .git and .venv out of the build context.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STUDYNAUT_DATA_DIR=/data
WORKDIR /app
# ffmpeg cuts and re-encodes long audio (pipeline/extractors/media.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home studynaut && mkdir -p /data && chown studynaut /data
# The code stays root's: the application cannot change it.
USER studynaut
EXPOSE 8000
CMD ["gunicorn", "studynaut.wsgi", "--bind", "0.0.0.0:8000"]
