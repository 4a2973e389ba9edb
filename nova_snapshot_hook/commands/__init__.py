"""The verbs of the command line, one module each: run(ctx, args) does the job."""
