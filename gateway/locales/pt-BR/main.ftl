# Páginas de agente do Switchboard — português do Brasil
skip-to-content = Pular para o conteúdo
sign-out = Sair
close = Fechar
save = Salvar
yes = Sim
no = Não
back-to-login = Voltar para o login
back-to-inbox = Voltar para a caixa de entrada
back-to-list = Voltar para a lista
error-summary = Há um problema
csrf-expired = Este formulário expirou. Recarregue a página e tente novamente.
csrf-cross-site = Esta solicitação veio de outro site e foi recusada.
time-just-now = agora mesmo
time-in-moments = em instantes
time-ago-minutes = há { $n } min
time-ago-hours = há { $n } h
time-ago-days = { $n ->
    [one] ontem
   *[other] há { $n } dias
}
time-in-minutes = em { $n } min
time-in-hours = em { $n } h
time-in-days = em { $n } d
unit-day = d

# Login
login-title = Entrar
login-submit = Entrar
login-forgot = Esqueceu sua senha?
login-failed = E-mail ou senha incorretos.
login-throttled = Muitas tentativas. Aguarde alguns minutos e tente novamente.
login-email-missing = Informe seu e-mail
login-password-missing = Informe sua senha
signed-out = Você saiu da sua conta.
field-email = E-mail
field-password = Senha
field-new-password = Nova senha
field-name = Nome
field-role = Função
field-teams = Equipes
field-language = Idioma
field-capacity = Capacidade
password-hint = Pelo menos 10 caracteres. Algumas palavras fáceis de lembrar funcionam bem.
twofa-title = Verificação em duas etapas
twofa-lead = Digite o código de 6 dígitos do seu app autenticador ou um dos seus códigos de recuperação.
twofa-code = Código
twofa-code-hint = O código muda a cada 30 segundos.
twofa-submit = Verificar
twofa-cancel = Cancelar e sair
twofa-wrong = Esse código está incorreto ou já foi usado.
forgot-title = Redefina sua senha
forgot-lead = Informe o e-mail da sua conta. Enviaremos um link para você criar uma nova senha.
forgot-submit = Enviar link
forgot-sent = Se houver uma conta com esse e-mail, um link está a caminho. Ele vale por uma hora.
set-password-title = Escolha uma nova senha
invite-title = Boas-vindas! Escolha sua senha
set-password-for = Para { $email }
set-password-submit = Salvar senha e entrar
link-invalid = Este link expirou ou já foi usado.
password-saved = Sua senha foi salva. Use-a para entrar.
reset-mail-subject = Redefina sua senha
reset-mail-body = Alguém pediu para redefinir a senha da sua conta. Se foi você, abra este link em até uma hora:
invite-mail-subject = Convite para a caixa de entrada do suporte
invite-mail-body = Criamos uma conta para você. Abra este link para escolher sua senha:

# Interface geral
nav-views = Visualizações
nav-more = Mais
nav-workspace = Espaço de trabalho
nav-conversations = Conversas
nav-dashboard = Painel
nav-users = Usuários
nav-account = Minha conta
nav-shortcuts = Atalhos
view-mine = Minhas
view-unassigned = Não atribuídas
view-all = Todas
view-team = Equipe { $name }
view-tier = Nível { $tier }
group-teams = Equipes
group-tiers = Níveis
unread-count = { $n ->
    [0] { $n } não lidas
    [one] { $n } não lida
   *[other] { $n } não lidas
}
shortcuts-title = Atalhos de teclado
sc-next-prev = Conversa seguinte / anterior
sc-reply = Responder
sc-note = Nota interna
sc-resolve = Resolver
sc-assign-me = Atribuir a mim
sc-search = Buscar
sc-palette = Paleta de comandos
sc-send = Enviar
sc-help = Mostrar esta lista
palette-label = Ir para uma conversa, contato ou página
notifications-hint = Receba uma notificação do navegador quando uma conversa for atribuída a você ou alguém mencionar você.
notifications-enable = Ativar notificações

# Lista
search-label = Buscar conversas
search-placeholder = Buscar mensagens e contatos
search-clear = Limpar a busca
filter-status = Status
filter-channel = Canal
filter-priority = Prioridade
filter-company = Empresa
filter-assignee = Responsável
filter-apply = Aplicar
sort-label = Ordenar
sort-activity = Atividade mais recente
sort-waiting = Esperando há mais tempo
sort-priority = Maior prioridade
any-status = Abertas, pendentes e adiadas
any-channel = Todos os canais
any-priority = Qualquer prioridade
any-company = Qualquer empresa
any-assignee = Qualquer responsável
load-more = Carregar mais
select-conversation = Selecionar conversa { $number }
unread = não lida
bulk-action = Com as selecionadas
bulk-apply = Aplicar
bulk-selected = { $n ->
    [0] { $n } selecionadas
    [one] { $n } selecionada
   *[other] { $n } selecionadas
}
bulk-done = Alteradas: { $ok }. Sem alteração: { $failed }.
empty-mine = Nada atribuído a você. As conversas não atribuídas ficam em “Não atribuídas”.
empty-view = Nenhuma conversa aqui no momento. As novas aparecem sem recarregar a página.
empty-search = Nenhum resultado para esta busca.
pick-conversation = Escolha uma conversa
pick-conversation-hint = Use j e k para navegar pela lista.
conversation = Conversa
contact = Contato
messages = Mensagens

# Status, canais e prioridades
status-open = Aberta
status-pending = Pendente
status-snoozed = Adiada
status-resolved = Resolvida
status-all = Todas, inclusive resolvidas
channel-webchat = Chat no site
channel-email = E-mail
channel-whatsapp = WhatsApp
channel-portal = Portal
channel-api = API
priority-urgent = Urgente
priority-high = Alta
priority-medium = Normal
priority-low = Baixa
priority-none = Sem prioridade
visitor-name = Visitante { $code }
tier = Nível
sla-due = Responder { $when }
sla-breached = { $when } de atraso
sla-first-response = Primeira resposta
sla-resolution = Resolução

# Conversa
actions = Ações
assignee = Responsável
assign = Atribuir
unassigned = Não atribuída
action-assign-me = Atribuir a mim
action-resolve = Resolver
action-pending = Marcar como pendente
action-reopen = Reabrir
action-snooze = Adiar
action-priority-high = Definir prioridade alta
action-tier = Nível
snooze-1h = 1 hora
snooze-4h = 4 horas
snooze-tomorrow = Até amanhã
snooze-week = Uma semana
escalate-reason = Motivo
escalate-reason-hint = Fica registrado na conversa para a próxima pessoa.
escalate-submit = Mudar nível
escalate-to = Escalar para { $tier }
de-escalate-to = Voltar para { $tier }
escalate-reason-missing = Informe o motivo da mudança de nível
composer-mode = Resposta ou nota
composer-reply = Responder
composer-note = Nota interna
composer-label = Mensagem
composer-placeholder = Escreva uma resposta. Digite / para respostas salvas e @ para mencionar alguém em uma nota.
composer-hint = Ctrl+Enter para enviar
composer-send = Enviar
composer-empty = Escreva algo primeiro
read-only = Você pode ler esta conversa, mas não alterá-la.
note-by = Nota ·
show-quoted = Mostrar o texto citado
author-bot = Bot
author-system = Sistema
author-agent = Agente
state-queued = Enviando
state-sent = Enviada
state-delivered = Entregue
state-read = Lida
state-failed = Não entregue
state-received = Recebida
viewing-also-label = Também visualizando:
typing-contact = O cliente está digitando…
notify-mentioned = Você foi mencionado em #0
notify-assigned = A conversa #0 agora é sua
conflict = Alguém alterou esta conversa enquanto você a tinha aberta. Ela agora mostra o estado mais recente; confira e tente novamente.
saved = Salvo
canned = Respostas salvas
labels = Etiquetas
labels-hint = Separe as etiquetas com vírgulas.
verified = Verificado
verified-hint = Confirmado pelo canal ou por um link de acesso
unverified = Não verificado
unverified-hint = Digitado pelo visitante; não comprova a identidade
no-identities = Nenhum endereço conhecido
company = Empresa
no-company = Sem empresa
previous-conversations = Conversas anteriores
no-history = Nenhuma conversa anterior
billing = Faturamento
billing-placeholder = As faturas e os pagamentos deste contato aparecerão aqui.
equipment = Equipamentos
equipment-placeholder = Máquinas, contratos e leituras de medidor aparecerão aqui.
card-kind-invoice = Fatura
card-kind-estimate = Orçamento
card-kind-payment = Pagamento
card-kind-ticket = Ticket
card-kind-survey = Pesquisa
card-kind-other = Cartão
not-found-title = Não encontrado
not-found-body = Esta página não existe ou você não tem acesso a ela.
forbidden-title = Não permitido
forbidden-body = Sua função permite ver isto, mas não alterar.

# Painel
dashboard-title = Painel
dash-open = Conversas abertas
dash-breaches = Violações de SLA
dash-first-response = Primeira resposta
dash-resolution = Resolução
dash-median = Mediana
dash-p90 = Percentil 90
dash-by-tier = Abertas por nível
dash-by-channel = Abertas por canal
dash-by-age = Abertas por idade
dash-volume = Novas conversas por dia
dash-per-tier = Por nível
dash-per-team = Por equipe
dash-per-agent = Por agente
dash-count = Quantidade
dash-none = Ainda não há dados neste período.
dash-window = Últimos { $days } dias

# Usuários
users-title = Usuários
users-invite = Convidar usuário
users-2fa = 2FA
users-state = Situação
users-active = Ativo
users-inactive = Desativado
users-deactivate = Desativar este usuário
users-deactivate-hint = Encerra na hora as sessões e os tokens de API dessa pessoa. Você pode reativá-la depois.
users-reactivate = Reativar este usuário
users-saved = Usuário salvo.
invite-made = Convite enviado. Você também pode repassar este link diretamente:
invite-submit = Enviar convite
edit-user = Editar usuário
role-hint = Supervisores veem tudo e não alteram nada; coordenadores atendem as conversas das suas empresas.
tier-hint = Só para agentes de suporte: N1 é a primeira linha; N2 e N3, para escalonamentos.
teams-hint = Separe as equipes com vírgulas.
capacity-hint = Número máximo de conversas abertas que a atribuição automática dá a essa pessoa.
role-admin = Administrador
role-supervisor = Supervisor
role-coordinator = Coordenador
role-support = Agente de suporte

# Conta
account-title = Minha conta
twofa-section = Verificação em duas etapas
twofa-on = Ativada
twofa-off = Proteja sua conta com um código de um app autenticador.
twofa-enable = Configurar verificação em duas etapas
twofa-scan = Escaneie este código com seu app autenticador e digite o código exibido.
twofa-manual = Ou digite esta chave:
twofa-confirm = Ativar
twofa-enabled = A verificação em duas etapas está ativada.
recovery-title = Seus códigos de recuperação
recovery-lead = Cada um permite entrar uma vez se você perder o celular. Guarde-os em um lugar seguro: eles só aparecem agora.
recovery-left = { $n ->
    [0] Nenhum código de recuperação restante
    [one] { $n } código de recuperação restante
   *[other] { $n } códigos de recuperação restantes
}
sessions-title = Sessões
sessions-lead = Entrou em um computador que não usa mais? Encerre todas as sessões, inclusive esta.
logout-everywhere = Sair de todos os dispositivos
language-saved = Idioma salvo.

# Merging
merge-here = Mesclar aqui
merge-conversation-confirm = Mover todas as mensagens de #{ $n } para esta conversa? #{ $n } será encerrada.
merge-conversation-label = Mesclar #{ $n } nesta conversa
merge-contact = É a mesma pessoa que outro contato?
merge-contact-hint = Encontre o outro contato por nome, e-mail ou telefone; as conversas dele vêm para cá.
merge-contact-search = Nome, e-mail ou telefone
merge-contact-confirm = Mesclar aquele contato com este? Os endereços e conversas dele vêm para cá.
no-contact-matches = Nenhum outro contato corresponde.
unnamed-contact = Sem nome

# Saved replies
nav-saved = Respostas salvas
saved-title = Respostas salvas
saved-intro = Digite / e o atalho no editor para inserir uma. {"{{"}contact.name{"}}"}, {"{{"}conversation.number{"}}"} e {"{{"}agent.name{"}}"} são preenchidos para você.
saved-all-languages = Todos os idiomas
saved-new = Nova resposta salva
saved-edit = Editar resposta salva
saved-edit-short = Editar
saved-edit-label = Editar /{ $name }
saved-standard = Padrão
saved-none = Ainda não há respostas salvas neste idioma.
saved-added = Resposta salva adicionada.
saved-changed = Resposta salva alterada.
saved-removed = Resposta salva removida.
saved-shortcut = Atalho
saved-shortcut-hint = Letras, dígitos e hífens; digitado depois de / no editor.
saved-field-title = Título
saved-body = Texto
saved-body-hint = Marcadores: {"{{"}contact.name{"}}"}, {"{{"}conversation.number{"}}"}, {"{{"}agent.name{"}}"}.
saved-remove = Remover esta resposta salva
saved-remove-confirm = Remover esta resposta salva para todos?

nav-email = E-mail
email-title = E-mail
email-intro = As caixas de correio são definidas no arquivo de configuração. Aqui você vê como cada uma está e pode testar seus servidores.
email-none = Nenhuma caixa de correio configurada ainda. Adicione uma em [[email.inboxes]] no arquivo de configuração.
email-folder = Pasta
email-inbox = Caixa
email-login = Acesso
email-login-password = Senha
email-relay = Relay (HTTP)
email-detail = Último estado
email-fetched = Mensagens lidas
email-not-set = Não definido
email-state-ok = Conectada
email-state-error = Com falhas
email-state-none = Ainda não conectada
email-test = Testar conexão
email-test-ok = A conexão funciona.
email-test-failed = A conexão falhou.
email-smtp-ok = login feito
