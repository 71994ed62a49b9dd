terraform {
  # >= 1.6: `terraform test`, import blocks and cross-object preconditions as used here.
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.38 is the first release with aws_msk_topic (topics as code on provisioned MSK);
      # it also accepts kafka://topic as an event source mapping on-failure destination.
      version = "~> 6.38"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State holds the delivery secret: keep it in an encrypted, access-controlled backend.
  # See backend.tf.example and docs/deploy.md.
}
