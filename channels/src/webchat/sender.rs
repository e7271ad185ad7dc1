use async_trait::async_trait;
use switchboard_core::dispatcher::{SendError, SendReceipt, Sender};
use switchboard_core::domain::{Channel, Conversation, Message};

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

    async fn send(&self, _: &Conversation, message: &Message) -> Result<SendReceipt, SendError> {
        Ok(SendReceipt {
            external_id: Some(message.id.clone()),
        })
    }
}
