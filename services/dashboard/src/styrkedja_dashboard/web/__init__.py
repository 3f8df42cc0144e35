"""Sessions, CSRF, security headers and templates: the web plumbing every page shares."""
