"""DataCorp: the data-engineering onboarding world (``.dc`` exports, validation API, DCQL)."""
