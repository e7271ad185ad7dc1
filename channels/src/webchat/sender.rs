use async_trait::async_trait;
use switchboard_core::dispatcher::{Outgoing, SendError, SendReceipt, Sender};
use switchboard_core::domain::Channel;

/// Web chat delivers through the realtime bus (the queued message was published to the
/// visitor's sockets when it was stored) and through history when the widget reconnects,
/// so sending has nothing left to carry: it confirms the message is on its way.
#[derive(Debug, Default, Clone)]
pub struct WebchatSender;

#[async_trait]
impl Sender for WebchatSender {
    fn channel(&self) -> Channel {
        Channel::Webchat
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<SendReceipt, SendError> {
        Ok(SendReceipt {
            external_id: Some(outgoing.message.id.clone()),
        })
    }
}
