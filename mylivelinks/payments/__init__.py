"""Payment providers (Stripe, Apple, Google): verify webhooks and normalise them."""
