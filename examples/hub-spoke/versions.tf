terraform {
  required_version = ">= 1.0"
  required_providers {
    aksid = {
      source = "aksid/aksid"
    }
  }
}
