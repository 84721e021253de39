FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home studynaut && mkdir -p /data && chown studynaut /data
USER studynaut
EXPOSE 8000
CMD ["gunicorn", "studynaut.wsgi", "--bind", "0.0.0.0:8000"]
