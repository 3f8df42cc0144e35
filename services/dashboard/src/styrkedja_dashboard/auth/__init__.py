"""Sign-in: OIDC authorization code + PKCE (Authlib), the token verified with the kit's verifier."""
