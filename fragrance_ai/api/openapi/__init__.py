"""The OpenAPI document as the service really answers: errors, links, configuration."""
