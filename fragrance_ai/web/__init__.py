"""The perfumer's workbench: a single page served by the API process, plain HTML, CSS and
JavaScript modules written here (no build step, no CDN, nothing fetched from elsewhere)."""
