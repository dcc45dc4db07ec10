"""titans.pipelines: see README status table; this domain is not implemented yet."""
