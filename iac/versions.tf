terraform {
  # >= 1.9: validations that refer to locals (validations.tf); 1.6 brought `terraform test`,
  # import blocks and the cross-object preconditions used here.
  required_version = ">= 1.9.0"

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
