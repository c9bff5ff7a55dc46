"""Media providers (LiveKit, Agora, Twilio, local) behind one MediaProvider interface."""
