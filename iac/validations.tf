# What the variables' validations share: one pattern per kind of name, each named once
# (Terraform >= 1.9 lets a validation condition refer to locals).

locals {
  kafka_topic_name_pattern    = "^[A-Za-z0-9._-]{1,249}$"
  consumer_group_name_pattern = "^[A-Za-z0-9._-]{1,200}$"
  subnet_id_pattern           = "^subnet-[0-9a-f]+$"
}
