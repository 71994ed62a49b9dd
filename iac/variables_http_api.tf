# HTTP API: its routes and throttling.

variable "http_routes" {
  description = "Route keys sent to the HTTP function, all behind the JWT authorizer: functions/http/api.py ROUTES (a test keeps them equal). Other paths get API Gateway's 404 without invoking the function."
  type        = list(string)
  default = [
    "POST /rooms",
    "GET /rooms",
    "GET /rooms/{roomId}",
    "POST /rooms/{roomId}/members",
    "DELETE /rooms/{roomId}/members/{userId}",
    "GET /rooms/{roomId}/messages",
    "PUT /rooms/{roomId}/read",
    "GET /rooms/{roomId}/read",
    "GET /rooms/{roomId}/presence",
    "GET /me",
    "PUT /devices",
    "GET /devices",
    "DELETE /devices/{deviceId}",
    "PUT /rooms/{roomId}/mute",
    "GET /push/config",
    "POST /rooms/{roomId}/attachments",
    "GET /rooms/{roomId}/attachments/{attId}",
    "PATCH /rooms/{roomId}/messages/{seq}",
    "DELETE /rooms/{roomId}/messages/{seq}",
    "POST /rooms/{roomId}/messages/{seq}/reactions",
  ]

  validation {
    condition     = length(var.http_routes) > 0 && alltrue([for r in var.http_routes : can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE) /", r))])
    error_message = "http_routes must be route keys like \"GET /rooms\"."
  }
}

variable "api_throttle_rate" {
  description = "Steady-state requests per second of the HTTP API stage."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttle_rate > 0
    error_message = "api_throttle_rate must be positive."
  }
}

variable "api_throttle_burst" {
  description = "Burst requests of the HTTP API stage."
  type        = number
  default     = 200

  validation {
    condition     = var.api_throttle_burst > 0
    error_message = "api_throttle_burst must be positive."
  }
}
