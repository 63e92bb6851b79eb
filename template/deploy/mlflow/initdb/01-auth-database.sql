-- The basic-auth app keeps its users and permissions in a database of their own.
CREATE DATABASE mlflow_auth OWNER mlflow;
