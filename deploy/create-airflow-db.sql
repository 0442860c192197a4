CREATE DATABASE airflow OWNER inkasso;
