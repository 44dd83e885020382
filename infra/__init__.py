"""The CDK application: one construct per file, composed by a thin stack."""
