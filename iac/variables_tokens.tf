# Tokens: what the API Gateway JWT authorizer and the edges' handshake accept.

variable "jwt_issuer" {
  description = "Token issuer (iss). The HTTP API's JWT authorizer fetches {issuer}/.well-known/openid-configuration, so it must be an https URL of an OIDC provider signing with RS256."
  type        = string

  validation {
    condition     = can(regex("^https://", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL (an OIDC issuer)."
  }
}

variable "jwt_audience" {
  description = "Token audience (aud) the edges and the HTTP API accept."
  type        = string
  default     = "tidings"

  validation {
    condition     = length(var.jwt_audience) > 0
    error_message = "jwt_audience must not be empty."
  }
}

variable "jwt_public_key_pem" {
  description = "PEM public key (RS256) the edges and functions verify tokens with (TIDINGS_JWT_PUBLIC_KEY); the issuer's current signing key."
  type        = string

  validation {
    condition     = can(regex("-----BEGIN (RSA )?PUBLIC KEY-----", var.jwt_public_key_pem))
    error_message = "jwt_public_key_pem must be a PEM public key."
  }
}
