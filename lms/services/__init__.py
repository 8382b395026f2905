"""The domain: each module holds the logic of one area; views call these."""
