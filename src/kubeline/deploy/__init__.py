"""Taking kubeline pipelines and models off this machine: clusters, Vertex AI, KServe."""
