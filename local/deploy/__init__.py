"""Shipping tidings to AWS: the Lambda package and iac/'s generated inputs (package), terraform
init/plan/apply of iac/ (terraform) and the offline checks of iac/ (iac_check).
"""
