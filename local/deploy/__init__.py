"""Shipping tidings to AWS: the Lambda package and its command line (package), iac/'s generated inputs
(tfvars), terraform init/plan/apply of iac/ (terraform) and the offline checks of iac/ (iac_check).
"""
