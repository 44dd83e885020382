"""The offline runtime: the deployed ASL and handlers, run on one machine with moto."""
