"""Security helpers of the HTTP surface: secret comparison, client IP, Access JWTs, Turnstile, webhook HMAC."""
