"""workflowapp: a host for WorkflowGen workflow applications."""
