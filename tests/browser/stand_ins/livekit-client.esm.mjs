// A stand-in for livekit-client's ES module (2.x): the names the web client uses, with the
// SDK's signatures, recording each call in window.__livekit instead of reaching a LiveKit
// server (none runs in the tests). The real module is installed by `make web-vendor`.
const calls = (window.__livekit = window.__livekit || []);

export const RoomEvent = {
  TrackPublished: "trackPublished",
  TrackSubscribed: "trackSubscribed",
  TrackUnsubscribed: "trackUnsubscribed",
};

export const Track = {
  Kind: { Audio: "audio", Video: "video" },
  Source: { Camera: "camera", Microphone: "microphone" },
};

class LocalParticipant {
  constructor() {
    this.published = new Map();
  }

  async setCameraEnabled(enabled) {
    calls.push(["camera", enabled]);
    if (enabled) this.published.set(Track.Source.Camera, { track: { id: "camera-track" } });
  }

  async setMicrophoneEnabled(enabled) {
    calls.push(["microphone", enabled]);
    if (enabled) this.published.set(Track.Source.Microphone, { track: { id: "microphone-track" } });
  }

  getTrackPublication(source) {
    return this.published.get(source);
  }

  async unpublishTrack(track, stopOnUnpublish) {
    calls.push(["unpublish", track.id, stopOnUnpublish]);
    for (const [source, publication] of this.published) {
      if (publication.track === track) this.published.delete(source);
    }
  }
}

export class Room {
  constructor(options) {
    this.options = options;
    this.handlers = new Map();
    this.remoteParticipants = new Map();
    this.localParticipant = new LocalParticipant();
  }

  on(event, handler) {
    this.handlers.set(event, handler);
    return this;
  }

  async connect(url, token, options) {
    calls.push(["connect", url, token, options]);
  }

  async disconnect() {
    calls.push(["disconnect"]);
  }
}
