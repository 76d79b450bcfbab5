"""HTTP: the JSON API, logging in and roles, input checks, rate limits and health."""
